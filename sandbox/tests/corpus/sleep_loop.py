# expect: timeout
# Many short sleeps add up to the budget.
import time
def handler(event, context):
    while True:
        time.sleep(0.01)
