// Misuses of window.CoBrowse (Services/DOMRelay/Web/Public/cobrowse.d.ts) that the declarations
// must refuse. Tests/typescript/check runs tsc on this file and expects an error on every line
// marked `// refused:`, and on no other line; so it cannot pass by accident (a broken
// declaration file, a misuse that slipped through).
export {};

CoBrowse.on('agentjoined', () => {}); // refused: not an event (agentJoined)
CoBrowse.on('end', () => {}); // refused: not an event (ended)
CoBrowse.start({}); // refused: interactionToken is required
CoBrowse.start({ endNoticeSeconds: 8 }); // refused: interactionToken is required
CoBrowse.start({ interactionToken: 42 }); // refused: the token is a string
CoBrowse.start({ interactionToken: 'eyJ…', endNoticeSeconds: '8' }); // refused: seconds are a number
CoBrowse.start({ interactionToken: 'eyJ…', endNotice: 8 }); // refused: no such option
CoBrowse.start({ interactionToken: 'eyJ…', language: ['ja', 'en'] }); // refused: a language is one tag
CoBrowse.start(); // refused: options are required
CoBrowse.startWithCode(42137); // refused: the code is a string (leading zeros count)
CoBrowse.startWithCode('042137', { interactionToken: 'eyJ…' }); // refused: a code start takes no token
CoBrowse.end().then(() => {}); // refused: end() returns nothing
CoBrowse.stop(); // refused: no such method
CoBrowse.on('started', ({ sessionID }) => sessionID); // refused: the field is sessionId
CoBrowse.on('ended', ({ reason }) => reason === 'timeout'); // refused: not an end reason
CoBrowse.on('ended', ({ by }) => by === 'agent'); // refused: an agent is agent:<id>
CoBrowse.on('modeChanged', ({ mode }) => mode === 'control'); // refused: modes are pointer and write
CoBrowse.on('error', ({ code }) => code === 'timeout'); // refused: not an error code
CoBrowse.on('agentJoined', ({ agentId }) => agentId.length); // refused: agentId may be undefined
CoBrowse.on('controlRequested', ({ until }) => until.getTime()); // refused: until is an ISO 8601 string
CoBrowse.on('session', ({ event }) => event === 'joined'); // refused: not a lifecycle change
CoBrowse.on('started', (detail: { reason: string }) => detail); // refused: started carries no reason
const id: string = CoBrowse.sessionId; // refused: null without a session
CoBrowse.sessionId = '123456789'; // refused: read-only
window.CoBrowse = CoBrowse; // refused: read-only
CoBrowse.start({ interactionToken: 'eyJ…' }).then(({ sessionId }) => sessionId.toFixed()); // refused: the ID is a string
const off: () => void = CoBrowse.on('ended', () => {});
off(true); // refused: the unsubscribe function takes nothing
console.log(id);
