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
    COALESCE(
      (
        (
          YEAR(s."contract_start") < (
            YEAR(p.as_of) + 0
          )
          AND MAKE_DATE(
            (
              YEAR(p.as_of) + 0
            ),
            MONTH(s."contract_start"),
            CASE
              WHEN MONTH(s."contract_start") = 2
              AND DAY(s."contract_start") = 29
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
              ELSE DAY(s."contract_start")
            END
          ) BETWEEN p.as_of AND p.as_of + 6
        )
        OR (
          YEAR(s."contract_start") < (
            YEAR(p.as_of) + 1
          )
          AND MAKE_DATE(
            (
              YEAR(p.as_of) + 1
            ),
            MONTH(s."contract_start"),
            CASE
              WHEN MONTH(s."contract_start") = 2
              AND DAY(s."contract_start") = 29
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
              ELSE DAY(s."contract_start")
            END
          ) BETWEEN p.as_of AND p.as_of + 6
        )
      ),
      FALSE
    )
  )
ORDER BY
  1
