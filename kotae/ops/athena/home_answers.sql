-- Answers for the App Home figures (kotae.ops.home_figures): outcome, prompt version, and the question where the Home tab shows it.
-- The question is read only for not-found answers and answers with a 👎, to keep the result small.
WITH downs AS (
  SELECT DISTINCT answer_id
  FROM "{{ database }}"."feedback"
  WHERE dt >= date_format(current_date - INTERVAL '{{ days }}' DAY, '%Y-%m-%d')
    AND feedback = 'down'
),
answers AS (
  SELECT
    answer_id,
    "time",
    user_id,
    coalesce(outcome, IF(found, 'answered', 'not_found')) AS outcome,
    prompt_task,
    prompt_version,
    question
  FROM "{{ database }}"."answers"
  WHERE dt >= date_format(current_date - INTERVAL '{{ days }}' DAY, '%Y-%m-%d')
)
SELECT
  a.answer_id,
  a."time",
  a.user_id,
  a.outcome,
  a.prompt_task,
  a.prompt_version,
  IF(a.outcome = 'not_found' OR d.answer_id IS NOT NULL, a.question) AS question
FROM answers AS a
LEFT JOIN downs AS d ON d.answer_id = a.answer_id
ORDER BY a."time" DESC
LIMIT 50000
