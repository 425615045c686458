-- Token cost per answer, per day, model and route, from the prices in the configuration
-- (kotae/ops/athena/model_prices.json or KOTAE_MODEL_PRICES). A geographic inference-profile
-- prefix (us., eu., apac., jp., au., global.) is removed before the lookup; unpriced models show
-- NULL. The route is the routing rule's choice (light, strong, pinned, none; README "Choosing
-- the model"); answers logged before routing show 'none'. logged_usd sums the estimate each
-- answer carried when it was given (the prices of that day), usd recomputes it with these.
WITH prices (model, usd_per_1k_input, usd_per_1k_output) AS (
  VALUES
{%- for model, price in prices | dictsort %}
    ('{{ model }}', {{ price.input_per_1k }}, {{ price.output_per_1k }}){{ "," if not loop.last }}
{%- endfor %}
),
answers AS (
  SELECT
    dt,
    regexp_replace(model_id, '^(us|eu|apac|jp|au|global)\.', '') AS model,
    coalesce(route, 'none') AS route,
    input_tokens,
    output_tokens,
    cost_usd
  FROM "{{ database }}"."answers"
  WHERE dt >= date_format(current_date - INTERVAL '{{ days }}' DAY, '%Y-%m-%d')
)
SELECT
  a.dt,
  a.model,
  a.route,
  count(*) AS answers,
  sum(a.input_tokens) AS input_tokens,
  sum(a.output_tokens) AS output_tokens,
  round(sum(a.input_tokens * p.usd_per_1k_input + a.output_tokens * p.usd_per_1k_output) / 1000, 4) AS usd,
  round(avg(a.input_tokens * p.usd_per_1k_input + a.output_tokens * p.usd_per_1k_output) / 1000, 6) AS usd_per_answer,
  round(sum(a.cost_usd), 4) AS logged_usd
FROM answers AS a
LEFT JOIN prices AS p ON p.model = a.model
GROUP BY a.dt, a.model, a.route
ORDER BY a.dt DESC, usd DESC
