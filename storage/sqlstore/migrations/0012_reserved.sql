-- Placeholder: migration number 0012 belongs to another branch (issue 24 was
-- given 0014 onwards). Drop this file at merge; it changes nothing.

SELECT 1;
