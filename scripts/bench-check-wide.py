#!/usr/bin/env python3
"""Converts the long CSV `cutover gen-recon` writes (partner_id,day,metric,value,currency)
into the wide layout a plan's file source reads: one row per partner and day, one column
per metric, the currency in its own column (money metrics only), a metric the side does
not report left blank (the source reads blanks as missing, never as 0).

usage: bench-check-wide.py LONG.csv WIDE.csv
Prints the first and last day seen (for the check's window) on stdout.
"""
import sys

METRICS = [
    "clicks_gross", "clicks_unique", "registrations", "ftd_count", "ftd_amount",
    "qualified_ftd", "deposits_count", "deposits_amount", "withdrawals_amount",
    "purchases", "purchases_amount", "trades", "net_revenue", "commission",
]
INDEX = {m: i for i, m in enumerate(METRICS)}


def main(src, dst):
    first, last = None, None
    with open(src, newline="") as f, open(dst, "w", newline="") as out:
        out.write("partner,day,currency," + ",".join(METRICS) + "\n")
        header = f.readline()
        if not header.startswith("partner_id,day,metric,value"):
            sys.exit(f"{src}:1: unexpected header {header.strip()!r}")
        partner = None
        days = {}  # day -> [currency, values...] for the current partner

        def flush():
            for day in sorted(days):
                row = days[day]
                out.write(f"{partner},{day},{row[0]},{','.join(row[1:])}\n")
            days.clear()

        for n, line in enumerate(f, start=2):
            p, day, metric, value, cur = line.rstrip("\n").split(",")
            if p != partner:
                flush()
                partner = p
            row = days.get(day)
            if row is None:
                row = days[day] = [""] * (len(METRICS) + 1)
            i = INDEX.get(metric)
            if i is None:
                sys.exit(f"{src}:{n}: unknown metric {metric!r}")
            if row[i + 1]:
                sys.exit(f"{src}:{n}: {p} {day} {metric} twice")
            row[i + 1] = value
            if cur:
                row[0] = cur
            first = day if first is None or day < first else first
            last = day if last is None or day > last else last
        flush()
    print(first, last)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
