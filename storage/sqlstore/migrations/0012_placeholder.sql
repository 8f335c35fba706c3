-- Placeholder for migration 12, which another branch adds; the merge
-- replaces this file with it. It changes nothing.
SELECT 1;
