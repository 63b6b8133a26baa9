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
    COALESCE(s."plan" = 'Enterprise', FALSE)
  )
ORDER BY
  1
