// The SDK's sentences in Japanese: the same keys and placeholders as en.js (a browser test
// checks it).
export default Object.freeze({
  // The bar (sdk/bar.js).
  'bar.label': '画面共有',
  'bar.session': '画面共有・セッション {id}',
  'bar.stopControl': '操作の許可を取り消す',
  'bar.exit': '終了',
  'bar.consentLabel': '操作の許可の依頼',
  'bar.consentQuestion': '担当者がこのページを操作する許可を求めています',
  'bar.allow': '許可する',
  'bar.deny': '許可しない',
  'bar.privatePage': 'このページは非公開です。担当者にはページのレイアウトだけが見え、文字は見えません。',
  'bar.markedFields': 'このように囲まれた入力欄は担当者には見えません。',

  // The bar's status line (sdk/share-session.js).
  'status.waiting': '担当者の参加を待っています',
  'status.viewing': '担当者がこのページを見ています',
  'status.viewingNamed': '{name} がこのページを見ています',
  'status.viewingCount': { other: '{count}人がこのページを見ています' },
  'status.control': '担当者がこのページを操作しています',
  'status.agentReconnecting': '担当者が再接続しています…',
  'status.reconnecting': '再接続しています…',

  // The notices (sdk/end-notice.js).
  'notice.close': '閉じる',
  'ended.customer-exited': '画面共有を終了しました。',
  'ended.agent-exited': '担当者が画面共有を終了しました。',
  'ended.interaction-ended': 'お問い合わせが終了したため、画面共有を終了しました。',
  'ended.interaction-transferred': 'お問い合わせが別の担当者に引き継がれたため、画面共有を終了しました。',
  'ended.interaction-conferenced': 'お問い合わせに他の参加者が加わったため、画面共有を終了しました。',
  'ended.inactivity': 'しばらく操作がなかったため、画面共有を終了しました。',
  'ended.no-agent-joined': '担当者が参加しなかったため、画面共有を終了しました。',
  'ended.agent-absent': '担当者が退出したため、画面共有を終了しました。',
  'ended.customer-absent': 'このページが閉じられたため、画面共有を終了しました。',
  'ended.administrator': '管理者が画面共有を終了しました。',
  ended: '画面共有は終了しました。',
  'failed.expired-token': '画面共有を開始できませんでした。担当者からのリンクの有効期限が切れています。担当者に新しいリンクをお求めください。',
  'failed.invalid-token': '画面共有を開始できませんでした。担当者からのリンクが無効です。担当者に新しいリンクをお求めください。',
  'failed.interaction-ended': 'お問い合わせが終了しているため、画面共有を開始できませんでした。',
  'failed.code-unknown': 'コードが正しくありません。担当者が読み上げた6桁の数字をご確認ください。',
  'failed.code-expired': 'このコードは有効期限が切れています。担当者に新しいコードをお求めください。',
  'failed.code-used': 'このコードはすでに使われています。担当者に新しいコードをお求めください。',
  'failed.too-many-attempts': '間違ったコードの入力が多すぎます。1分ほど待ってから、もう一度お試しください。',
  'failed.unavailable': '画面共有を開始できませんでした。現在サービスに接続できません。しばらくしてから、もう一度お試しください。',
  failed: '画面共有を開始できませんでした。もう一度お試しいただくか、担当者にお問い合わせください。',

  // The voice code prompt (sdk/code-prompt.js).
  'codePrompt.title': 'このページを担当者と共有する',
  'codePrompt.hint': 'お電話で担当者が読み上げる6桁のコードを入力してください。',
  'codePrompt.label': 'コード',
  'codePrompt.cancel': 'キャンセル',
  'codePrompt.start': '開始',
  'codePrompt.malformed': 'コードは6桁の数字です。',
});
