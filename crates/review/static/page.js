// Palisade's review pages carry no other script. A page restored from the browser's
// back/forward cache may show a message that was released or deleted since, with live
// buttons: load it again from the server instead.
window.addEventListener("pageshow", function (event) {
  if (event.persisted) {
    window.location.reload();
  }
});
