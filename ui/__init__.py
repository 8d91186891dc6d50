"""The Gradio app and the `dermagraph` CLI."""
