WITH params AS (
  SELECT
    CAST('2026-11-01' AS DATE) AS as_of
)
SELECT
  s.visitor_id AS subject_id
FROM visitors AS s
CROSS JOIN params AS p
WHERE
  (
    COALESCE(
      (
        (
          YEAR(s."first_visit") < (
            YEAR(p.as_of) + 0
          )
          AND MAKE_DATE(
            (
              YEAR(p.as_of) + 0
            ),
            MONTH(s."first_visit"),
            CASE
              WHEN MONTH(s."first_visit") = 2
              AND DAY(s."first_visit") = 29
              AND NOT (
                (
                  (
                    YEAR(p.as_of) + 0
                  ) % 4 = 0 AND (
                    YEAR(p.as_of) + 0
                  ) % 100 <> 0
                )
                OR (
                  YEAR(p.as_of) + 0
                ) % 400 = 0
              )
              THEN 28
              ELSE DAY(s."first_visit")
            END
          ) BETWEEN p.as_of AND p.as_of + 6
        )
        OR (
          YEAR(s."first_visit") < (
            YEAR(p.as_of) + 1
          )
          AND MAKE_DATE(
            (
              YEAR(p.as_of) + 1
            ),
            MONTH(s."first_visit"),
            CASE
              WHEN MONTH(s."first_visit") = 2
              AND DAY(s."first_visit") = 29
              AND NOT (
                (
                  (
                    YEAR(p.as_of) + 1
                  ) % 4 = 0 AND (
                    YEAR(p.as_of) + 1
                  ) % 100 <> 0
                )
                OR (
                  YEAR(p.as_of) + 1
                ) % 400 = 0
              )
              THEN 28
              ELSE DAY(s."first_visit")
            END
          ) BETWEEN p.as_of AND p.as_of + 6
        )
      ),
      FALSE
    )
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
