# expect: timeout
# Regex work for ever.
import re
def handler(event, context):
    while True:
        re.findall(r'(a|b)*c', 'ab' * 50)
