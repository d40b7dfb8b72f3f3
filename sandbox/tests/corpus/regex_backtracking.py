# expect: ok
# Catastrophic backtracking for CPython; monty's engine answers in linear time.
import re
def handler(event, context):
    return re.match(r'(a+)+$', 'a' * 5000 + 'b') is None
