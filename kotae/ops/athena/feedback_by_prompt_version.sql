-- Feedback per prompt version: the share of 👍 among rated answers, and how many answers were rated.
-- A person may click more than once; only their last click on an answer counts.
WITH last_click AS (
  SELECT answer_id, user_id, max_by(feedback, "time") AS feedback
  FROM "{{ database }}"."feedback"
  WHERE dt >= date_format(current_date - INTERVAL '{{ days }}' DAY, '%Y-%m-%d')
  GROUP BY answer_id, user_id
)
SELECT
  a.prompt_task,
  a.prompt_version,
  count(DISTINCT a.answer_id) AS answers,
  count_if(f.feedback = 'up') AS up,
  count_if(f.feedback = 'down') AS down,
  round(CAST(count_if(f.feedback = 'up') AS double) / nullif(count(f.feedback), 0), 3) AS up_ratio,
  round(CAST(count(DISTINCT f.answer_id) AS double) / count(DISTINCT a.answer_id), 3) AS rated_share
FROM "{{ database }}"."answers" AS a
LEFT JOIN last_click AS f ON f.answer_id = a.answer_id
WHERE a.dt >= date_format(current_date - INTERVAL '{{ days }}' DAY, '%Y-%m-%d')
GROUP BY a.prompt_task, a.prompt_version
ORDER BY a.prompt_task, a.prompt_version
