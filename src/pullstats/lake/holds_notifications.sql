-- lake.holds_notifications: one row if the lake's `requests` hold any request that came from
-- a registry notification, else none (Parquet min/max statistics skip log-only row groups).
SELECT 1 AS found
FROM requests
WHERE source = 'notification'
LIMIT 1
