{#- The columns' values, taken together, are unique (dbt's `unique` takes one column; this
    saves a package download for one test). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
