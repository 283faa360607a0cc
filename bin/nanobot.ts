#!/usr/bin/env node
// CDK entry point (cdk.json "app"). No `env`: the stack is environment-agnostic, so `cdk synth`
// runs offline without credentials; `cdk deploy` targets the CLI's account and region.
import { createApp } from '../lib/app';

createApp();
