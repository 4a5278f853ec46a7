print("culprit-testkit")
