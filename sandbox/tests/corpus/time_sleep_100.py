# expect: timeout
# A long sleep ends as a timeout, at once.
import time
def handler(event, context):
    time.sleep(100)
    return 1
