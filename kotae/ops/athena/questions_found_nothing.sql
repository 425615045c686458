-- Questions that found nothing: the knowledge to write next. Grouped by the normalized question.
SELECT
  lower(trim(question)) AS question,
  count(*) AS times,
  count(DISTINCT user_id) AS people,
  max("time") AS last_asked,
  array_join(slice(array_agg(DISTINCT channel_id), 1, 5), ', ') AS channels
FROM "{{ database }}"."answers"
WHERE dt >= date_format(current_date - INTERVAL '{{ days }}' DAY, '%Y-%m-%d')
  AND NOT found
GROUP BY lower(trim(question))
ORDER BY times DESC, last_asked DESC
LIMIT 100
