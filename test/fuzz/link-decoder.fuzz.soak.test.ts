// The published full counts of link-decoder.fuzz.test.ts (npm run soak; HSM_SOAK=1 gives soakCount its full figure).
import './link-decoder.fuzz.test.ts';
