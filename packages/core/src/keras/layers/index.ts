/** Registers every Keras layer converter (imported for its side effects). */
import './basic.js';
import './conv.js';
import './shape.js';
