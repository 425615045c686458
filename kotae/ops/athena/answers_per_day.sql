-- Answers per day: how much the bot is used, and how often it found nothing.
SELECT
  dt,
  count(*) AS answers,
  count_if(found) AS answered,
  count_if(NOT found) AS found_nothing,
  count(DISTINCT user_id) AS people,
  count(DISTINCT channel_id) AS channels
FROM "{{ database }}"."answers"
WHERE dt >= date_format(current_date - INTERVAL '{{ days }}' DAY, '%Y-%m-%d')
GROUP BY dt
ORDER BY dt DESC
