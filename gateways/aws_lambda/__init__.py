"""The AWS Lambda function of the transcript pipeline (stdlib + boto3 only: it is deployed on its own).

Handler: ``gateways.aws_lambda.handler.handler``; ``scripts/package-lambda`` builds the deployment zip.
"""
