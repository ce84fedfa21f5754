// Once django-otp-webauthn has saved a new passkey (it fires this event, bubbling
// from its button), go on as the page's #after-passkey form says.
document.addEventListener("otp_webauthn.register_complete", () => {
  document.getElementById("after-passkey").submit();
});
