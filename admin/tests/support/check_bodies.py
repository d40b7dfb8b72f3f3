"""Checks the management document's schemas and request bodies with jsonschema (support/mod.rs)."""
import json, sys
from jsonschema import Draft202012Validator
doc = json.load(open(sys.argv[1]))
cases = json.load(open(sys.argv[2]))
schemas = doc["components"]["schemas"]
problems = []
for name, schema in schemas.items():
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as e:
        problems.append(f"schema {name} is not valid JSON Schema: {e}")
for case in cases:
    root = dict(case["schema"], components=doc["components"])
    errors = list(Draft202012Validator(root).iter_errors(case["body"]))
    if case["valid"] and errors:
        problems.append(f"{case['route']}: {json.dumps(case['body'])} refused by {json.dumps(case['schema'])[:200]}: "
                        + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors))
    if not case["valid"] and not errors:
        problems.append(f"{case['route']}: {json.dumps(case['body'])} accepted by {json.dumps(case['schema'])[:200]}")
print("\n".join(problems))
print(f"checked {len(schemas)} schemas and {len(cases)} bodies", file=sys.stderr)
sys.exit(1 if problems else 0)
