-- Latency per stage (retrieve, render, generate) and in total: p50 and p95, in milliseconds.
WITH stages AS (
  SELECT stage, ms
  FROM "{{ database }}"."answers"
  CROSS JOIN UNNEST(latency_ms) AS t (stage, ms)
  WHERE dt >= date_format(current_date - INTERVAL '{{ days }}' DAY, '%Y-%m-%d')
  UNION ALL
  SELECT 'total' AS stage, total_ms AS ms
  FROM "{{ database }}"."answers"
  WHERE dt >= date_format(current_date - INTERVAL '{{ days }}' DAY, '%Y-%m-%d')
)
SELECT
  stage,
  count(*) AS answers,
  round(approx_percentile(ms, 0.5), 1) AS p50_ms,
  round(approx_percentile(ms, 0.95), 1) AS p95_ms
FROM stages
GROUP BY stage
ORDER BY p95_ms DESC
