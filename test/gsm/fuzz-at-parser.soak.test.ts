// The published full counts of fuzz-at-parser.test.ts (npm run soak; HSM_SOAK=1 gives soakCount its full figure).
import './fuzz-at-parser.test.ts';
