"""Face models: one small class per network, typed results, no AWS vocabulary.

detector (YuNet), mesh (MediaPipe face mesh + iris), embedder (SFace), age_gender, emotion,
pose (from the mesh's 3D points), quality and attributes (measured signals), and the
`analyzer` facade that runs them lazily per face: `models.face.analyzer.default_analyzer()`.
"""
