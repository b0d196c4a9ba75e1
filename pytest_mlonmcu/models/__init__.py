"""Models: the models directory layout, the built-in zoo, .tflite files."""
