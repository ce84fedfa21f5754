/* The editor's image dialog, made to ask for what the server keeps
   (core/sanitize.py keeps an image's src, alt, width and height attributes, and no
   style): alternative text is required, and Width, Height and the ratio lock are
   hidden, since the dialog writes a size only as an inline style, which the
   sanitiser removes (core/editor/settings.py disallows img{width,height}, so the
   dialog writes none). Loaded from CKEDITOR_CONFIGS' external_plugin_resources. */
(function () {
  "use strict";

  var ALT_MESSAGE =
    "Alternative text is required: describe the image for readers who cannot see it.";
  var HIDDEN = ["txtWidth", "txtHeight", "ratioLock"];

  CKEDITOR.plugins.add("imagealt", {
    init: function (editor) {
      CKEDITOR.on("dialogDefinition", function (event) {
        if (event.editor !== editor || event.data.name !== "image") {
          return;
        }
        var definition = event.data.definition;
        var info = definition.getContents("info");
        var alt = info.get("txtAlt");
        alt.required = true;
        alt.validate = CKEDITOR.dialog.validate.notEmpty(ALT_MESSAGE);
        HIDDEN.forEach(function (id) {
          var element = info.get(id);
          if (element) {
            element.hidden = true;
          }
        });
        var onShow = definition.onShow;
        definition.onShow = function () {
          if (onShow) {
            onShow.apply(this, arguments);
          }
          var input = this.getContentElement("info", "txtAlt").getInputElement();
          input.setAttribute("aria-required", "true");
          input.setAttribute("required", "required");
        };
      });
    },
  });
})();
