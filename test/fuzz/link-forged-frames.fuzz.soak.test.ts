// The published full counts of link-forged-frames.fuzz.test.ts (npm run soak; HSM_SOAK=1 gives soakCount its full figure).
import './link-forged-frames.fuzz.test.ts';
