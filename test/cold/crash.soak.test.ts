// The published full counts of crash.test.ts (npm run soak; HSM_SOAK=1 gives soakCount its full figure).
import './crash.test.ts';
