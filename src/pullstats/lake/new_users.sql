-- lake.new_users: the batch's distinct authenticated user names that the run's table of hashed
-- users (`users`) does not hold yet. An anonymous request ('' or NULL) has none. `user` is
-- always qualified: bare, where no column of that name is in scope, DuckDB reads it as
-- current_user.
SELECT DISTINCT b.user
FROM batch AS b
WHERE coalesce(b.user, '') <> '' AND b.user NOT IN (SELECT n.user FROM users AS n)
