#!/usr/bin/env node
// Launcher for the `hsm` CLI (scripts/hsm.ts): registers the TypeScript loader, then runs it.
import { register } from 'tsx/esm/api';

register();
await import('../scripts/hsm.ts');
