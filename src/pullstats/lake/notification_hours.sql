-- lake.notification_hours: the hours (UTC, truncated timestamps) in which the `requests`
-- given hold a request from a registry notification: what a log import must not count again.
SELECT DISTINCT date_trunc('hour', ts) AS hour
FROM requests
WHERE source = 'notification'
