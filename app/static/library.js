// Uploads by drag-and-drop or the file picker: a progress bar while the files are sent to
// POST /api/documents, then the ingestion job's progress (GET /api/jobs/{id}) until the
// documents are searchable. Without JavaScript the form posts to /library/upload instead.
(() => {
  const form = document.getElementById("upload-form");
  const zone = document.getElementById("drop-zone");
  const picker = document.getElementById("upload-files");
  const status = document.getElementById("upload-status");
  const message = document.getElementById("upload-message");
  const bar = document.getElementById("upload-progress");
  const jobBar = document.getElementById("job-progress");
  const jobMessage = document.getElementById("job-message");

  document.querySelectorAll("form.delete-form").forEach((f) => {
    f.addEventListener("submit", (event) => {
      if (!window.confirm(`Delete “${f.dataset.title}” from the knowledge base?`)) event.preventDefault();
    });
  });
  if (!form || !window.XMLHttpRequest || !window.FormData) return;

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function refreshTable() {
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.querySelector("#documents");
    const current = document.getElementById("documents");
    if (fresh && current) current.replaceWith(fresh);
    const heading = page.querySelector("#documents-title");
    if (heading) document.getElementById("documents-title").replaceWith(heading);
  }

  async function follow(jobId) {
    jobBar.closest("label").hidden = false;
    for (;;) {
      const response = await fetch(`/api/jobs/${encodeURIComponent(jobId)}`);
      if (!response.ok) { jobMessage.textContent = `Could not read job ${jobId}.`; return; }
      const job = await response.json();
      const total = job.files_total || 0;
      jobBar.value = total ? Math.round((100 * job.files_done) / total) : 0;
      jobMessage.replaceChildren(`Indexing: ${job.status}, ${job.files_done}${total ? ` of ${total}` : ""} files, ${job.chunks} chunks. `,
        Object.assign(document.createElement("a"), { href: `/jobs/${job.id}`, textContent: "Job details" }));
      if (job.status !== "queued" && job.status !== "running") { // succeeded, completed_with_errors, failed
        jobBar.value = 100;
        const failed = (job.errors || []).map((e) => `${e.path.split("/").pop()}: ${e.error}`);
        const summary = job.status === "succeeded" && !failed.length
          ? "Done: the documents are searchable."
          : `Finished with problems. ${job.error || ""} ${failed.join("; ")}`;
        jobMessage.prepend(summary + " ");
        status.dataset.state = job.status === "succeeded" && !failed.length ? "searchable" : "failed";
        await refreshTable();
        return;
      }
      await sleep(500);
    }
  }

  function upload(files) {
    if (!files.length) return;
    const data = new FormData();
    for (const file of files) data.append("files", file, file.name);
    status.hidden = false;
    status.dataset.state = "uploading";
    jobBar.closest("label").hidden = true;
    jobMessage.textContent = "";
    bar.value = 0;
    message.textContent = `Uploading ${files.length} file${files.length > 1 ? "s" : ""}…`;
    const request = new XMLHttpRequest();
    request.open("POST", "/api/documents");
    request.setRequestHeader("Accept", "application/json");
    // Signed in on the login page: the session's CSRF token (empty with other credentials).
    const csrf = document.querySelector('meta[name="csrf-token"]');
    if (csrf) request.setRequestHeader("X-CSRF-Token", csrf.content);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) bar.value = Math.round((100 * event.loaded) / event.total);
    });
    request.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(request.responseText); } catch (_) { /* not JSON */ }
      if (request.status !== 202) {
        message.textContent = `Upload failed: ${body.detail || request.statusText || request.status}`;
        status.dataset.state = "failed";
        return;
      }
      bar.value = 100;
      message.textContent = `Uploaded ${body.files.join(", ")}.`;
      status.dataset.state = "indexing";
      follow(body.job_id);
    });
    request.addEventListener("error", () => {
      message.textContent = "Upload failed: the connection was lost.";
      status.dataset.state = "failed";
    });
    request.send(data);
  }

  picker.addEventListener("change", () => { upload([...picker.files]); picker.value = ""; });
  form.addEventListener("submit", (event) => { event.preventDefault(); upload([...picker.files]); });
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => { event.preventDefault(); zone.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("over"));
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    upload([...event.dataTransfer.files]);
  });
})();
