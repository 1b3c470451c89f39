"""Tests of the CDK infrastructure (synthesized templates, configuration, cdk-nag, CLI synth)."""
