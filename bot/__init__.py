"""The Slack bot Lambda (Bolt on AWS Lambda). Not built yet: see the project's open issues."""
