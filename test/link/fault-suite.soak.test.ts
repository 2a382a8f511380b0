// The published full counts of fault-suite.test.ts (npm run soak; HSM_SOAK=1 gives soakCount its full figure).
import './fault-suite.test.ts';
