"""A small report generator with the leaks LeakLens looks for."""
import json
import sqlite3 as sq
from collections import defaultdict


def load_settings(path):
    f = open(path)
    settings = json.load(f)
    return settings


def count_rows(db_path, table):
    conn = sq.connect(db_path)
    cursor = conn.execute(f"SELECT COUNT(*) FROM {table}")
    return cursor.fetchone()[0]


def remember(event, seen=[]):
    seen.append(event)
    return len(seen)


def group(items, groups=defaultdict(list)):
    for key, value in items:
        groups[key].append(value)
    return groups


def render(rows, header={}):
    return [dict(header, **row) for row in rows]


def save(path, text):
    with open(path, "w") as f:
        f.write(text)
