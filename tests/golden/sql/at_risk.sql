WITH params AS (
  SELECT
    CAST('2026-11-01' AS DATE) AS as_of
), active_days_30 AS (
  SELECT
    v.account_id AS subject_id,
    COUNT(DISTINCT CAST(u.date AS DATE)) AS value
  FROM usage_daily AS u
  JOIN visitors AS v
    ON v.visitor_id = u.visitor_id
  CROSS JOIN params AS p
  WHERE
    u.date >= p.as_of - 30
    AND u.date < p.as_of
    AND (
      u.events > 0 OR u.minutes > 0
    )
    AND COALESCE(CAST(v.first_visit AS DATE) < p.as_of, TRUE)
  GROUP BY
    1
), minutes_30 AS (
  SELECT
    v.account_id AS subject_id,
    SUM(u.minutes) AS value
  FROM usage_daily AS u
  JOIN visitors AS v
    ON v.visitor_id = u.visitor_id
  CROSS JOIN params AS p
  WHERE
    u.date >= p.as_of - 30
    AND u.date < p.as_of
    AND COALESCE(CAST(v.first_visit AS DATE) < p.as_of, TRUE)
  GROUP BY
    1
)
SELECT
  s.account_id AS subject_id
FROM accounts AS s
CROSS JOIN params AS p
LEFT JOIN active_days_30
  ON active_days_30.subject_id = s.account_id
LEFT JOIN minutes_30
  ON minutes_30.subject_id = s.account_id
WHERE
  (
    COALESCE(COALESCE(active_days_30.value, 0) <= 2, FALSE)
    AND COALESCE(COALESCE(minutes_30.value, 0) <= 10, FALSE)
  )
ORDER BY
  1
