WITH params AS (
  SELECT
    CAST('2026-11-01' AS DATE) AS as_of
), first_visit AS (
  SELECT
    x.visitor_id AS subject_id,
    x.day AS value
  FROM (
    SELECT
      v.visitor_id,
      COALESCE(CAST(v.first_visit AS DATE), a.day) AS day
    FROM visitors AS v
    LEFT JOIN (
      SELECT
        u.visitor_id,
        MIN(CAST(u.date AS DATE)) AS day
      FROM usage_daily AS u
      CROSS JOIN params AS p
      WHERE
        u.date < p.as_of AND (
          u.events > 0 OR u.minutes > 0
        )
      GROUP BY
        1
    ) AS a
      ON a.visitor_id = v.visitor_id
  ) AS x
)
SELECT
  s.visitor_id AS subject_id
FROM visitors AS s
CROSS JOIN params AS p
LEFT JOIN first_visit
  ON first_visit.subject_id = s.visitor_id
WHERE
  (
    COALESCE(DATE_DIFF('DAY', first_visit.value, p.as_of) <= 30, FALSE)
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
