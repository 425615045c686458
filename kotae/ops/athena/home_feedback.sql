-- Feedback for the App Home figures (kotae.ops.home_figures): each person's last click on each answer, with its reason and comment.
SELECT
  answer_id,
  user_id,
  max("time") AS "time",
  max_by(feedback, "time") AS feedback,
  max_by(reason, "time") AS reason,
  max_by(comment, "time") AS comment
FROM "{{ database }}"."feedback"
WHERE dt >= date_format(current_date - INTERVAL '{{ days }}' DAY, '%Y-%m-%d')
GROUP BY answer_id, user_id
ORDER BY max("time") DESC
LIMIT 50000
