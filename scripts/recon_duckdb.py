"""The DuckDB baseline for `cutover recon`: the same full outer comparison in SQL.

usage: python3.11 scripts/recon_duckdb.py OLD NEW CROSSWALK ABS REL OUT
Writes partner_id,day,metric,old_value,new_value,status for every key that is not an
exact match (same rule as cutover: within tolerance iff |new-old| <= max(abs, rel*|old|)).
"""
import sys

import duckdb

old, new, xwalk, tol_abs, tol_rel, out = sys.argv[1:7]
cols = "{'partner_id':'VARCHAR','day':'DATE','metric':'VARCHAR','value':'DECIMAL(18,4)','currency':'VARCHAR'}"
con = duckdb.connect()
con.execute("SET threads=2")
con.execute(f"""
COPY (
  WITH o AS (SELECT partner_id, day, metric, value
             FROM read_csv('{old}', header=true, columns={cols})),
       x AS (SELECT * FROM read_csv('{xwalk}', header=true,
             columns={{'old_partner_id':'VARCHAR','new_partner_id':'VARCHAR'}})),
       n AS (SELECT coalesce(x.old_partner_id, r.partner_id) AS partner_id, r.day, r.metric, r.value
             FROM read_csv('{new}', header=true, columns={cols}) r
             LEFT JOIN x ON r.partner_id = x.new_partner_id)
  SELECT coalesce(o.partner_id, n.partner_id) AS partner_id,
         coalesce(o.day, n.day) AS day,
         coalesce(o.metric, n.metric) AS metric,
         o.value AS old_value, n.value AS new_value,
         CASE WHEN o.partner_id IS NULL THEN 'only_new'
              WHEN n.partner_id IS NULL THEN 'only_old'
              WHEN abs(n.value - o.value) <= greatest(CAST({tol_abs} AS DECIMAL(18,4)),
                                                      CAST({tol_rel} AS DECIMAL(18,6)) * abs(o.value))
                THEN 'within_tolerance'
              ELSE 'variance' END AS status
  FROM o FULL OUTER JOIN n
    ON o.partner_id = n.partner_id AND o.day = n.day AND o.metric = n.metric
  WHERE o.partner_id IS NULL OR n.partner_id IS NULL OR o.value <> n.value
) TO '{out}' (HEADER, DELIMITER ',')
""")
