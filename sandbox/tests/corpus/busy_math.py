# expect: timeout
# Floating-point work for ever.
import math
def handler(event, context):
    x = 0.0
    while True:
        x = math.sqrt(x + 2.0)
