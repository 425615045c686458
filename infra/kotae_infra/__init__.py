"""kotae's AWS CDK app: constructs, settings (CDK context) and Lambda bundling."""
