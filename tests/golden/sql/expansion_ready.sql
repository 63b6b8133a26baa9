WITH params AS (
  SELECT
    CAST('2026-11-01' AS DATE) AS as_of
), seg_healthy AS (
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
  )
  SELECT
    s.account_id AS subject_id
  FROM accounts AS s
  CROSS JOIN params AS p
  LEFT JOIN active_days_30
    ON active_days_30.subject_id = s.account_id
  WHERE
    (
      COALESCE(COALESCE(active_days_30.value, 0) >= 16, FALSE)
    )
  ORDER BY
    1
), seg_smb AS (
  WITH params AS (
    SELECT
      CAST('2026-11-01' AS DATE) AS as_of
  )
  SELECT
    s.account_id AS subject_id
  FROM accounts AS s
  CROSS JOIN params AS p
  WHERE
    (
      COALESCE(s."arr" <= 15000, FALSE)
    )
  ORDER BY
    1
), clicks_data_explorer_504a8ffe_30 AS (
  SELECT
    v.account_id AS subject_id,
    SUM(u.clicks) AS value
  FROM feature_usage AS u
  JOIN visitors AS v
    ON v.visitor_id = u.visitor_id
  CROSS JOIN params AS p
  WHERE
    u.date >= p.as_of - 30
    AND u.date < p.as_of
    AND u.feature_id = 'data_explorer'
    AND COALESCE(
      COALESCE(
        CAST(v.first_visit AS DATE),
        (
          SELECT
            MIN(CAST(ps_seen.date AS DATE))
          FROM usage_daily AS ps_seen
          WHERE
            ps_seen.visitor_id = v.visitor_id
            AND v.first_visit IS NULL
            AND (
              ps_seen.events > 0 OR ps_seen.minutes > 0
            )
        )
      ) < p.as_of,
      TRUE
    )
  GROUP BY
    1
), clicks_path_reports_b82bf5c8_30 AS (
  SELECT
    v.account_id AS subject_id,
    SUM(u.clicks) AS value
  FROM feature_usage AS u
  JOIN visitors AS v
    ON v.visitor_id = u.visitor_id
  CROSS JOIN params AS p
  WHERE
    u.date >= p.as_of - 30
    AND u.date < p.as_of
    AND u.feature_id = 'path_reports'
    AND COALESCE(
      COALESCE(
        CAST(v.first_visit AS DATE),
        (
          SELECT
            MIN(CAST(ps_seen.date AS DATE))
          FROM usage_daily AS ps_seen
          WHERE
            ps_seen.visitor_id = v.visitor_id
            AND v.first_visit IS NULL
            AND (
              ps_seen.events > 0 OR ps_seen.minutes > 0
            )
        )
      ) < p.as_of,
      TRUE
    )
  GROUP BY
    1
)
SELECT
  s.account_id AS subject_id
FROM accounts AS s
CROSS JOIN params AS p
LEFT JOIN clicks_data_explorer_504a8ffe_30
  ON clicks_data_explorer_504a8ffe_30.subject_id = s.account_id
LEFT JOIN clicks_path_reports_b82bf5c8_30
  ON clicks_path_reports_b82bf5c8_30.subject_id = s.account_id
WHERE
  (
    COALESCE(s.account_id IN (
      SELECT
        subject_id
      FROM seg_healthy
    ), FALSE)
    AND (
      NOT COALESCE(s.account_id IN (
        SELECT
          subject_id
        FROM seg_smb
      ), FALSE)
    )
    AND (
      COALESCE(COALESCE(clicks_data_explorer_504a8ffe_30.value, 0) >= 10, FALSE)
      OR COALESCE(COALESCE(clicks_path_reports_b82bf5c8_30.value, 0) >= 10, FALSE)
    )
  )
ORDER BY
  1
