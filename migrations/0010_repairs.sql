-- Blocks repaired: translated once the engine was told what was wrong with its last reply (the
-- request that fixed them carries the count), for `status` beside what was spent.
ALTER TABLE usage ADD COLUMN repaired INTEGER NOT NULL DEFAULT 0;
