// "/" focuses the search box (or the page's first search field), unless typing already.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
  const box = document.getElementById("q") || document.querySelector('input[type="search"]');
  if (!box) return;
  event.preventDefault();
  box.focus();
  box.select();
});
