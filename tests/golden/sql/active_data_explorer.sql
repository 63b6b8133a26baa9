WITH params AS (
  SELECT
    CAST('2026-11-01' AS DATE) AS as_of
), clicks_data_explorer_504a8ffe_30 AS (
  SELECT
    u.visitor_id AS subject_id,
    SUM(u.clicks) AS value
  FROM feature_usage AS u
  CROSS JOIN params AS p
  WHERE
    u.date >= p.as_of - 30 AND u.date < p.as_of AND u.feature_id = 'data_explorer'
  GROUP BY
    1
)
SELECT
  s.visitor_id AS subject_id
FROM visitors AS s
CROSS JOIN params AS p
LEFT JOIN clicks_data_explorer_504a8ffe_30
  ON clicks_data_explorer_504a8ffe_30.subject_id = s.visitor_id
WHERE
  (
    COALESCE(COALESCE(clicks_data_explorer_504a8ffe_30.value, 0) >= 10, FALSE)
  )
  AND COALESCE(
    COALESCE(
      CAST(s.first_visit AS DATE),
      (
        SELECT
          MIN(CAST(ps_seen.date AS DATE))
        FROM usage_daily AS ps_seen
        WHERE
          ps_seen.visitor_id = s.visitor_id
          AND s.first_visit IS NULL
          AND (
            ps_seen.events > 0 OR ps_seen.minutes > 0
          )
      )
    ) < p.as_of,
    TRUE
  )
ORDER BY
  1
